// Master-file zones: parse, format, validate, serials.

export * from './errors.js';
export * from './parse.js';
export * from './format.js';
export * from './serial.js';
export * from './validate.js';
