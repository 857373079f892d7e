// @ts-check
// Starts Swagger UI on the document named by the page (data-openapi), with
// nothing that reaches another host: no validator badge (validator.swagger.io),
// and no document or configuration taken from the page's own query string.
// Then names the few controls Swagger UI leaves unnamed, as Swagger UI renders
// them, so screen readers and keyboards can use "Try it out" and "Authorize".
"use strict";

(function () {
  const root = document.getElementById("swagger-ui");
  /** @type {any} */
  const SwaggerUIBundle = /** @type {any} */ (window).SwaggerUIBundle;
  if (!root || typeof SwaggerUIBundle !== "function") {
    return;
  }
  SwaggerUIBundle({
    url: root.dataset.openapi,
    domNode: root,
    validatorUrl: null,
    queryConfigEnabled: false,
    // Deep links put a link inside each operation's toggle button.
    deepLinking: false,
    displayRequestDuration: true,
    requestSnippetsEnabled: true,
    // Plain code blocks: the highlighter's token colours fail WCAG contrast.
    syntaxHighlight: false,
    persistAuthorization: false,
    withCredentials: false,
  });

  /** Accessible names and keyboard access Swagger UI's markup lacks. */
  const repair = () => {
    for (const select of root.querySelectorAll(
      "tr[data-param-name] select:not([aria-label])",
    )) {
      const row = /** @type {HTMLElement} */ (select.closest("tr[data-param-name]"));
      select.setAttribute("aria-label", row.dataset.paramName || "value");
    }
    for (const button of root.querySelectorAll(".close-modal:not([aria-label])")) {
      button.setAttribute("aria-label", "Close");
    }
    // Its visible text is "Authorize"; the name must contain it.
    for (const button of root.querySelectorAll(
      ".auth-btn-wrapper .authorize[aria-label='Apply credentials']",
    )) {
      button.setAttribute("aria-label", "Authorize: apply credentials");
    }
    // The page's own <h1> comes first: the document's title is a level below it,
    // above the tags' <h3>.
    for (const title of root.querySelectorAll("h1.title:not([aria-level])")) {
      title.setAttribute("aria-level", "2");
    }
    // Scrolling code blocks must be reachable by keyboard.
    for (const block of root.querySelectorAll(
      ".highlight-code > pre:not([tabindex])",
    )) {
      block.setAttribute("tabindex", "0");
    }
  };

  new MutationObserver(repair).observe(root, { childList: true, subtree: true });
})();
