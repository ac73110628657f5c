// JSON-schema fragments shared by routes.

// Printable names: no control characters, which would break logs and links.
export const nameSchema = { type: 'string', minLength: 1, maxLength: 255, pattern: '^[^\\u0000-\\u001f\\u007f]+$' } as const;

export const idParam = { type: 'string', minLength: 1, maxLength: 64 } as const;

export function paramsSchema(...names: string[]) {
  return {
    type: 'object',
    properties: Object.fromEntries(names.map((n) => [n, idParam])),
    required: names,
  } as const;
}
