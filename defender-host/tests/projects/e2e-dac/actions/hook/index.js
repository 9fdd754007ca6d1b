// Called by webhook: its own process.env, the stack-prefixed secret, the request body.
exports.handler = async function (event) {
  const { body } = event.request;
  console.log('webhook called with', JSON.stringify(body));
  return {
    greeting: process.env.GREETING,
    who: process.env.WHO === undefined ? null : process.env.WHO,
    scoped: event.secrets.e2e_scoped,
    name: body.name,
  };
};
