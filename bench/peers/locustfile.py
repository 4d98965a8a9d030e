# The bench's login flow for Locust: log in through the form with its CSRF token (one cookie jar per
# user: Locust's HttpUser session), then browse the three pages in a loop; a page that answers the login
# form counts as a loss (a failure), as in session-bench's scenario.
import re
from locust import HttpUser, task

CSRF = re.compile(r'name="_csrf" value="([^"]+)"')

class Browser(HttpUser):
    def on_start(self):
        self.login()

    def login(self):
        page = self.client.get("/login", name="GET /login")
        token = CSRF.search(page.text).group(1)
        n = (id(self) % 4) + 1
        self.client.post("/login", data={"username": f"user{n}", "password": f"pass{n}", "_csrf": token}, allow_redirects=False, name="POST /login")

    @task
    def browse(self):
        for path in ("/home", "/owners", "/vets"):
            with self.client.get(path, name=f"GET {path}", allow_redirects=False, catch_response=True) as r:
                if r.status_code != 200 or 'type="password"' in r.text:
                    r.failure("session lost")
                    self.login()
                    return
