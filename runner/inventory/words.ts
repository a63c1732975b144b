import { InputError, type InputLocation } from "../errors.ts";

/** One shell word, and whether any part of it was quoted (quoted values stay strings). */
export interface Word {
  text: string;
  quoted: boolean;
}

/**
 * Splits a line into words as POSIX sh does (no expansions): whitespace
 * separates, `'...'` is literal, `"..."` honours `\"`, `\\`, `\$` and `` \` ``,
 * a backslash outside quotes escapes the next character. With `comments`, a
 * word starting with `#` ends the line (as Ansible's INI host lines).
 *
 * @example splitWords(`web1 motd="hello world"`, { file: "hosts" }) // [web1, motd=hello world]
 */
export function splitWords(line: string, where: InputLocation, opts: { comments?: boolean } = {}): Word[] {
  const words: Word[] = [];
  let current: Word | undefined;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (/\s/.test(c)) {
      if (current) words.push(current);
      current = undefined;
      continue;
    }
    if (!current && c === "#" && opts.comments) break;
    current ??= { text: "", quoted: false };
    if (c === "'" || c === '"') {
      const end = closingQuote(line, i);
      if (end < 0) throw new InputError(`unterminated ${c} quote`, where);
      const inner = line.slice(i + 1, end);
      current.text += c === "'" ? inner : inner.replace(/\\([$`"\\])/g, "$1");
      current.quoted = true;
      i = end;
    } else if (c === "\\" && i + 1 < line.length) {
      current.text += line[++i];
    } else {
      current.text += c;
    }
  }
  if (current) words.push(current);
  return words;
}

function closingQuote(line: string, open: number): number {
  const q = line[open];
  for (let i = open + 1; i < line.length; i++) {
    if (q === '"' && line[i] === "\\") i++;
    else if (line[i] === q) return i;
  }
  return -1;
}
