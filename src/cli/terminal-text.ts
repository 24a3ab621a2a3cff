// Text that came from a server (worker names, errors, payloads) is printed to a terminal: any escape
// sequence in it would be obeyed (retitle the window, clear the screen, forge a hyperlink or a line).
// It is removed before printing. Pure: no I/O.

/**
 * OSC (ESC ] ... BEL or ST, also its C1 form), DCS / SOS / PM / APC strings (ESC P, X, ^, _ ... ST),
 * CSI (ESC [ or C1 0x9b, parameters, intermediates, final byte), other ESC sequences, then every
 * remaining C0 and C1 control but tab and newline. An unterminated string runs to the end of the text.
 */
const CONTROL_SEQUENCES =
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it removes
  /(?:\x1b\]|\x9d)[\s\S]*?(?:\x07|\x1b\\|\x9c|$)|(?:\x1b[PX^_]|[\x90\x98\x9e\x9f])[\s\S]*?(?:\x1b\\|\x9c|$)|(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]?|\x1b[ -/]*[0-~]?|[\x00-\x08\x0b-\x1f\x7f-\x9f]/g;

/** `text` without terminal control sequences or control characters (tab and newline are kept). */
export function plainText(text: string): string {
  return text.replace(CONTROL_SEQUENCES, '');
}
