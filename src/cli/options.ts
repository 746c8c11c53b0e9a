/** Options every command receives, whatever its own: commander's global flags. */
export interface GlobalOptions {
  config?: string;
}
