// Sends an alert through a notification channel (a signed webhook) when a balance is low.
exports.handler = async function(event, context) {
  const { balance, threshold, account } = event.request.body;
  if (Number(balance) >= Number(threshold)) return { alerted: false };
  await context.notificationClient.send({
    channelAlias: 'ops-webhook',
    subject: `Low balance on ${account}`,
    message: `Balance ${balance} ETH is below ${threshold} ETH`,
  });
  return { alerted: true };
};
