import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['node_modules/', 'cdk.out/', 'data/', '.tools/', 'dist/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-explicit-any': 'off',
    },
  },
  {
    // Core never imports an adapter (or an AWS SDK): adapters reach it as ports, chosen by the
    // composition roots (fargate-listeners/src/*-main.ts, functions/aws-context.ts, mailctl's
    // entry point core/admin/mailctl-main.ts). docs/architecture.md, "Ports and adapters".
    files: ['core/**/*.ts'],
    ignores: ['core/adapters/**', 'core/admin/mailctl-main.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { regex: '(^|/)adapters/(aws|local)/', message: 'core talks to adapters through core/ports/*; the composition roots pass them in' },
            { regex: '^@aws-sdk/', message: 'only core/adapters/aws may use the AWS SDK' },
          ],
        },
      ],
      'no-restricted-syntax': [
        'error',
        { selector: 'ImportExpression[source.value=/adapters.(aws|local).|^@aws-sdk./]', message: 'core talks to adapters through core/ports/* (dynamic imports included)' },
      ],
    },
  },
  {
    // The protocol engines know no AWS SDK and no adapter (docs/architecture.md, "Layout").
    files: ['fargate-listeners/src/{imap,pop3,smtp}/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { regex: '^@aws-sdk/', message: 'protocol engines never import an AWS SDK' },
            { regex: '(^|/)adapters/(aws|local)/', message: 'protocol engines get the ports from ListenerDeps' },
          ],
        },
      ],
      'no-restricted-syntax': [
        'error',
        { selector: 'ImportExpression[source.value=/adapters.(aws|local).|^@aws-sdk./]', message: 'protocol engines never import an AWS SDK or an adapter' },
      ],
    },
  },
  {
    files: ['**/*.js'],
    languageOptions: { globals: { process: 'readonly', console: 'readonly' } },
  },
);
