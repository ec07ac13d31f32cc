// "GET /me": calls the example protected route through the client (which refreshes first when it must).
import { element, formatTime, messageFor, type PageState } from '../page.ts';

const NOT_CALLED = 'Not called yet.';

export function mountMe(page: PageState): void {
  const callMe = element<HTMLButtonElement>('call-me');
  const output = element('me-output');
  callMe.addEventListener('click', async () => {
    try {
      const response = await page.client.fetch('/me');
      const body = await response.json();
      output.textContent = `${response.status} at ${formatTime(Date.now())}\n${JSON.stringify(body, null, 2)}`;
    } catch (error) {
      output.textContent = messageFor(error);
    }
  });
  page.onSignedOut(() => {
    output.textContent = NOT_CALLED;
  });
}
