import { compileSchema, type DataValidator } from './schema.js';

/**
 * Compiled validators by schema id, so a queue's schema is compiled once, not per message.
 * Bounded: the least recently used validators are dropped past `limit`.
 */
export class SchemaCache {
  private readonly validators = new Map<string, DataValidator>();

  constructor(private readonly limit = 1_000) {}

  validatorFor(schemaId: string, definition: unknown): DataValidator {
    let validate = this.validators.get(schemaId);
    if (validate) {
      this.validators.delete(schemaId);
    } else {
      const compiled = compileSchema(definition);
      // Stored schemas were compiled when they were set; failing now means the store was edited.
      if (!compiled.ok) throw new Error(`stored schema ${schemaId} no longer compiles`);
      validate = compiled.validate;
      if (this.validators.size >= this.limit) this.validators.delete(this.validators.keys().next().value!);
    }
    this.validators.set(schemaId, validate);
    return validate;
  }
}
