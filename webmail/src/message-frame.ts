/**
 * A message's HTML, made safe to show: sanitised with DOMPurify (no scripts, handlers, forms,
 * frames, <base>, <meta>, <link>, javascript: or data: links), remote content (images,
 * backgrounds, CSS url(), @import) dropped until the reader allows it for this message, `cid:`
 * images replaced by the parts they name, links opened in a new tab without referrer or opener.
 *
 * What is left is written into a sandboxed `srcdoc` frame (no allow-scripts, no
 * allow-same-origin) whose own Content-Security-Policy forbids every load but inline styles
 * and data: images (and http/https images once remote content is allowed). Two fences: a
 * sanitiser bug still meets the policy, and a policy gap still meets the sanitiser.
 */
import DOMPurify from 'dompurify';

const REMOTE = /^\s*(https?:)?\/\//i;
const URL_ATTRIBUTES = ['src', 'background', 'poster', 'srcset', 'dynsrc', 'lowsrc'];
const CSS_REMOTE = /url\s*\(\s*(['"]?)\s*(?!data:|cid:)[^)]*\)|@import[^;]*;?/gi;
/** The same, for a test (a global RegExp's test() keeps state between calls). */
const HAS_CSS_REMOTE = new RegExp(CSS_REMOTE.source, 'i');

export interface SafeHtml {
  /** The document for the frame's srcdoc. */
  document: string;
  /** How many remote loads were removed (0: nothing to allow). */
  blockedRemote: number;
}

/**
 * `inline` maps a Content-ID (without <>) to a data: URL of that part. With `allowRemote`
 * remote images stay (the reader asked for them); scripts and the rest never do.
 */
export function safeMessageHtml(html: string, options: { allowRemote: boolean; inline: Map<string, string> }): SafeHtml {
  let blockedRemote = 0;
  const purify = DOMPurify(window);
  purify.addHook('afterSanitizeAttributes', (node) => {
    const el = node as Element;
    if (el.tagName === 'A' || el.tagName === 'AREA') {
      const href = el.getAttribute('href') ?? '';
      if (/^\s*(https?:|mailto:)/i.test(href)) {
        el.setAttribute('target', '_blank');
        el.setAttribute('rel', 'noopener noreferrer');
      } else el.removeAttribute('href');
    }
    for (const attr of URL_ATTRIBUTES) {
      const value = el.getAttribute(attr);
      if (value === null) continue;
      const cid = /^\s*cid:(.+)$/i.exec(value);
      if (cid) {
        const data = options.inline.get(decodeURIComponent(cid[1]).replace(/^<|>$/g, ''));
        if (data) el.setAttribute(attr, data);
        else el.removeAttribute(attr);
      } else if (REMOTE.test(value) || attr === 'srcset') {
        if (!options.allowRemote || attr !== 'src') {
          el.removeAttribute(attr);
          blockedRemote++;
        }
      } else if (!/^\s*data:image\//i.test(value)) el.removeAttribute(attr);
    }
    const style = el.getAttribute('style');
    if (style && !options.allowRemote && HAS_CSS_REMOTE.test(style)) {
      el.setAttribute('style', style.replace(CSS_REMOTE, ''));
      blockedRemote++;
    }
  });
  purify.addHook('uponSanitizeElement', (node, data) => {
    if (data.tagName === 'style' && !options.allowRemote && node.textContent && HAS_CSS_REMOTE.test(node.textContent)) {
      node.textContent = node.textContent.replace(CSS_REMOTE, '');
      blockedRemote++;
    }
  });
  const body = purify.sanitize(html, {
    WHOLE_DOCUMENT: false,
    FORBID_TAGS: [
      'form',
      'input',
      'button',
      'textarea',
      'select',
      'option',
      'base',
      'meta',
      'link',
      'iframe',
      'frame',
      'frameset',
      'object',
      'embed',
      'svg',
      'math',
      'audio',
      'video',
      'source',
      'track',
    ],
    FORBID_ATTR: ['action', 'formaction', 'ping', 'xlink:href'],
    ADD_ATTR: ['target'],
    ALLOW_DATA_ATTR: false,
    FORCE_BODY: true,
  });
  const imgSrc = options.allowRemote ? 'data: https: http:' : 'data:';
  const csp = `default-src 'none'; img-src ${imgSrc}; style-src 'unsafe-inline'; font-src data:; form-action 'none'; base-uri 'none'`;
  const document =
    `<!doctype html><html><head><meta charset="utf-8"><meta http-equiv="Content-Security-Policy" content="${csp}">` +
    '<style>body{margin:0;padding:12px;font:15px/1.5 system-ui,sans-serif;color:#1f2328;overflow-wrap:anywhere}img{max-width:100%;height:auto}</style>' +
    `</head><body>${body}</body></html>`;
  return { document, blockedRemote };
}

/** Plain text with links made clickable, as safe HTML (for a text/plain message, no frame needed). */
export function linkify(text: string): Array<string | { href: string }> {
  const out: Array<string | { href: string }> = [];
  const re = /\bhttps?:\/\/[^\s<>"')\]]+/g;
  let last = 0;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    if (m.index > last) out.push(text.slice(last, m.index));
    out.push({ href: m[0] });
    last = m.index + m[0].length;
  }
  if (last < text.length) out.push(text.slice(last));
  return out;
}
