#!/usr/bin/env node
// Thin executable: all behaviour lives in dist/cli/program.js (built from src/cli/program.ts).
import { main } from '../dist/cli/program.js';

process.exitCode = await main(process.argv);
