// Reports a vault's total value to the team's Slack channel, formatted for humans.
exports.handler = async function(event, context) {
  const { notificationClient } = context;
  const { tvl, change } = event.request.body;
  const usd = new Intl.NumberFormat('en-US', { style: 'currency', currency: 'USD' });
  const pct = new Intl.NumberFormat('en-US', { style: 'percent', maximumFractionDigits: 1, signDisplay: 'always' });
  const message = `Vault TVL is ${usd.format(tvl)} (${pct.format(change)} in 24h)`;
  notificationClient.send({
    channelAlias: 'ops-slack',
    subject: 'Daily vault report',
    message,
  });
  return message;
};
