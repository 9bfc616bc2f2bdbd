/**
 * The one live line a command may show on a terminal (a spinner, a phase): redrawn in place on
 * stderr, with anything else the command prints to stderr put above it. When stderr is not a
 * terminal there is no live line and lines are printed as they come.
 */
export class StatusLine {
  private text = '';

  constructor(private readonly stream: NodeJS.WriteStream = process.stderr) {}

  get enabled(): boolean {
    return this.stream.isTTY === true;
  }

  show(text: string): void {
    if (!this.enabled) return;
    this.text = text.slice(0, (this.stream.columns ?? 100) - 1);
    this.stream.write(`\r\x1b[2K${this.text}`);
  }

  /** Prints a whole line to stderr above the live line, which is drawn again below it. */
  print(line: string): void {
    if (!this.enabled || this.text === '') {
      this.stream.write(`${line}\n`);
      return;
    }
    this.stream.write(`\r\x1b[2K${line}\n${this.text}`);
  }

  clear(): void {
    if (this.enabled && this.text !== '') this.stream.write('\r\x1b[2K');
    this.text = '';
  }
}

/** The CLI's live line on stderr. */
export const statusLine = new StatusLine();
