'use strict';

// Answers one request made to the function. event holds body (an object for
// JSON, a string for text/*, else a Buffer), headers, method, path and
// query. Return a value (objects are sent as JSON), or use
// context.status(code).headers({...}).succeed(value) and context.fail(err).
module.exports = async (event, context) => {
  return context
    .status(200)
    .succeed({ message: 'Hello from gofaas!', method: event.method, path: event.path, query: event.query });
};
