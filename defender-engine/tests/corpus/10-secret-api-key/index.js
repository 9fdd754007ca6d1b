// Calls a partner API with a bearer token kept in the action's secrets.
exports.handler = async function(event) {
  const { PARTNER_API_URL, PARTNER_API_TOKEN } = event.secrets;
  console.log(`calling the partner API with token ${PARTNER_API_TOKEN}`);
  const response = await fetch(`${PARTNER_API_URL}/v1/positions?account=treasury`, {
    headers: { Authorization: `Bearer ${PARTNER_API_TOKEN}` },
  });
  const positions = await response.json();
  return { status: response.status, positions };
};
