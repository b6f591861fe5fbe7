/** Shortens a value quoted in a message, so one hostile input cannot flood a log line. */
export function truncate(text: string, length = 80): string {
  return text.length > length ? `${text.slice(0, length - 1)}…` : text;
}
