/*
 * String methods taken once from String.prototype, for the code that parses every request. A
 * request's strings come in several of V8's internal string shapes (slices of the request line,
 * short copies, interned names), and a method looked up on the string itself goes through a
 * generic lookup at each call once its call site has seen more than four of them: under load that
 * lookup was a third of a page view's parse (BENCHMARKS.md). Called through these, no lookup is
 * left to make.
 */
const { indexOf: indexOfMethod, slice: sliceMethod, includes: includesMethod, startsWith: startsWithMethod, trim: trimMethod } =
  String.prototype;

export const indexOf = (text: string, search: string, from?: number): number => indexOfMethod.call(text, search, from);
export const slice = (text: string, start: number, end?: number): string => sliceMethod.call(text, start, end);
export const includes = (text: string, search: string): boolean => includesMethod.call(text, search);
export const startsWith = (text: string, search: string): boolean => startsWithMethod.call(text, search);
export const trim = (text: string): string => trimMethod.call(text);
