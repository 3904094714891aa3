// The operator sign-in page: posts the name and password, then goes where the visitor was headed.

const $ = (id) => document.getElementById(id);

/** Only a path on this server: never another site someone put in ?next= (open redirect).
 * Resolved as the browser will resolve it, so "/\evil.example" or "/<tab>/evil.example"
 * (which browsers read as "//evil.example") go to the dashboard instead. */
function nextPath() {
  const next = new URLSearchParams(location.search).get("next") || "/dashboard";
  let target;
  try {
    target = new URL(next, location.origin);
  } catch {
    return "/dashboard";
  }
  if (target.origin !== location.origin || !next.startsWith("/")) return "/dashboard";
  return target.pathname + target.search + target.hash;
}

$("signin-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const error = $("signin-error");
  error.textContent = "";
  $("signin").disabled = true;
  try {
    const response = await fetch("/v1/auth/signin", {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify({ name: $("name").value.trim(), password: $("password").value }),
    });
    const body = await response.json().catch(() => ({}));
    $("password").value = "";
    if (response.ok) {
      location.assign(nextPath());
      return;
    }
    error.textContent = response.status === 401 ? "wrong name or password" : body.message || `HTTP ${response.status}`;
  } catch {
    error.textContent = "could not reach the server";
  } finally {
    $("signin").disabled = false;
  }
});

$("name").focus();
