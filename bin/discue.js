#!/usr/bin/env node
// The `discue` command: runs src/main.ts in this very process, its TypeScript compiled on
// load by tsx. No child process, so signals (SIGTERM, SIGINT) reach discue's own handlers and
// its exit code is the process's.
import { register } from 'tsx/esm/api';

register();
await import(new URL('../src/main.ts', import.meta.url).href);
