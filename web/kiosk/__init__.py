"""The kiosk: the web app a service hall's full-screen browser opens.

A citizen chooses a service item, proves who they are (ID card + face check, simulated),
consents to exactly the data the item needs, presses one button and watches each
material arrive from its issuing department, then submits the case and takes home a
receipt with an evidence bundle per pulled material. Every step goes through the SDK's
kiosk flow (`client.hall.Hall`), signed with the terminal's own key.

- settings.py: what a kiosk needs to run (network, keys, items offered, idle timeout);
- visits.py: the flow state of each browser session, kept server-side under a random id
  and wiped after the idle timeout (a kiosk is shared);
- forms.py: checking what a citizen types (ID number, company code, item code);
- catalog.py: the offered service items as the service chain has them;
- pulling.py: one pull run per visit, fanning its status events out to the page's
  server-sent event stream;
- app.py, routes.py, pull_routes.py: the pages and endpoints, one step per page.
"""
