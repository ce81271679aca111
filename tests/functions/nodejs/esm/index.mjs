// Node.js test function as an ES module file (.mjs).

import { basename } from 'node:path';

export const handler = async (event) => ({ event, module: basename(import.meta.url) });
