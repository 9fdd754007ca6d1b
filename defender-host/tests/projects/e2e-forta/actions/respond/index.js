// Run on each alert of the Forta monitor that names it in action-trigger.
exports.handler = async function (event) {
  const payload = event.request.body;
  const alert = payload.alert;
  console.log('Forta alert', alert.alertId, 'from', alert.source.agent.id);
  return { type: payload.type, alertId: alert.alertId, severity: alert.severity, hash: payload.hash };
};
