/** A failed API request, with the status the server sent (metav1.Status). */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly reason: string,
    /** The server's own message, without the request line. */
    readonly serverMessage: string,
    readonly method: string,
    readonly path: string,
    readonly details?: unknown,
  ) {
    super(`${method} ${path}: ${status} ${reason}: ${serverMessage}`);
    this.name = 'ApiError';
  }
}

function statusOf(error: unknown): number | undefined {
  return error instanceof ApiError ? error.status : undefined;
}

export const isNotFound = (error: unknown): boolean => statusOf(error) === 404;
export const isConflict = (error: unknown): boolean => statusOf(error) === 409;
export const isAlreadyExists = (error: unknown): boolean => error instanceof ApiError && error.status === 409 && error.reason === 'AlreadyExists';
export const isGone = (error: unknown): boolean => statusOf(error) === 410;
export const isForbidden = (error: unknown): boolean => statusOf(error) === 403;
export const isInvalid = (error: unknown): boolean => statusOf(error) === 422;
export const isUnauthorized = (error: unknown): boolean => statusOf(error) === 401;
