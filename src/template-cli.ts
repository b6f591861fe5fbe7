/**
 * Process entry for the template tool: `npm run template -- render cake-pashx --settings ... --event ...`.
 * Everything else lives in destinations/cli.ts; this file only binds it to the process.
 */
import { runCli } from './destinations/cli.js';

process.exitCode = runCli(process.argv.slice(2), {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
});
