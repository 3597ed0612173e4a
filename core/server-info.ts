/** The product's name and version as package.json states them (IMAP ID, RFC 2971; logs). */
import pkg from '../package.json' with { type: 'json' };

export const SERVER_NAME: string = pkg.name;
export const SERVER_VERSION: string = pkg.version;
