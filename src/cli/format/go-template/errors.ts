// The one error a template gives, parsing or running: a line in Go's words, exit 125 as podman's.
import { HutchError } from '../../../errors.js';

/** `template: ps:1: unexpected "}" in operand`, `template: ps:1:13: executing "ps" at <.Nope>: …`. */
export class TemplateError extends HutchError {
  constructor(message: string) {
    super(message);
    this.name = 'TemplateError';
  }
}
