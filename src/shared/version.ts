// build.mjs substitutes these identifiers; running from source (tests) they are absent.
declare const PROA_VERSION: string | undefined;
declare const PROA_COMMIT: string | undefined;

export const version: string = typeof PROA_VERSION === 'string' ? PROA_VERSION : '0.0.0-dev';
export const commit: string = typeof PROA_COMMIT === 'string' ? PROA_COMMIT : 'unknown';
export const userAgent = `proa/${version}`;

export function versionLine(): string {
  return `proa ${version} (commit ${commit}, node ${process.version})`;
}
