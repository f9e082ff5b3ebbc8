/** The `vigil` binary's entry point (bin/vigil.js imports the compiled form of this file). */
import { run } from './program.js';

process.exitCode = await run(process.argv.slice(2));
