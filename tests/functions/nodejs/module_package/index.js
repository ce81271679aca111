// Node.js test function as an ES module, through "type": "module" in package.json.

export async function handler(event) {
  return { event, esm: typeof require === 'undefined' };
}
