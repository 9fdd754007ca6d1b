// Called by webhook, with the secrets check of Defender's complete example.
exports.handler = async function (event) {
  const { body } = event.request;
  if (body.value !== event.secrets.expectedValue) return { accepted: false };
  console.log('webhook from', body.name);
  return { accepted: true, message: `${process.env.GREETING}, ${body.name}!` };
};
