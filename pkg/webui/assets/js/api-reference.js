// Starts Swagger UI on this server's own document. A classic script, not a
// module: the bundle defines SwaggerUIBundle as a global.
/* global SwaggerUIBundle */
window.addEventListener('DOMContentLoaded', () => {
  window.ui = SwaggerUIBundle({
    url: '/openapi.json',
    dom_id: '#swagger-ui',
    deepLinking: true,
    // Nothing leaves this origin: no validator badge calling out to
    // swagger.io, which the page's Content-Security-Policy would refuse.
    validatorUrl: null,
    tryItOutEnabled: true,
    persistAuthorization: true,
  });
});
