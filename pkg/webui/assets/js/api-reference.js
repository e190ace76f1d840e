// Starts Swagger UI on this server's own document. A classic script, not a
// module: the bundle defines SwaggerUIBundle as a global.
/* global SwaggerUIBundle */
window.addEventListener('DOMContentLoaded', async () => {
  const root = document.getElementById('swagger-ui');
  let spec;
  try {
    spec = await (await fetch('/openapi.json')).json();
  } catch (err) {
    root.textContent = `Could not load /openapi.json: ${err.message}`;
    return;
  }
  // "Try it out" goes to the origin this page came from, the only one the
  // page's Content-Security-Policy lets it reach, whatever public URL the
  // document names for other tools.
  spec.servers = [{ url: window.location.origin, description: 'this server' }];
  window.ui = SwaggerUIBundle({
    spec,
    dom_id: '#swagger-ui',
    deepLinking: true,
    // No validator badge calling out to swagger.io.
    validatorUrl: null,
    tryItOutEnabled: true,
    persistAuthorization: true,
  });
});
