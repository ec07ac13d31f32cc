/**
 * The README's walk-through, as `npm start` prints it: the same variable names and the same commands, so that
 * what is printed can be pasted in order (test/e2e checks each line is the README's).
 */
export function walkThrough(url: string): string[] {
  const credentials = `'{"username":"alice","password":"correct horse battery"}'`;
  const field = (name: string) => `node -pe 'JSON.parse(require("fs").readFileSync(0)).${name}'`;
  return [
    `API=${url}`,
    `json='content-type: application/json'`,
    `curl -s -w '\\n' -X POST $API/auth/register -H "$json" -d ${credentials}`,
    `LOGIN=$(curl -s -X POST $API/auth/login -H "$json" -d ${credentials})`,
    `ACCESS=$(echo "$LOGIN" | ${field('accessToken')})`,
    `REFRESH=$(echo "$LOGIN" | ${field('refreshToken')})`,
    `curl -s -w '\\n' $API/me -H "authorization: Bearer $ACCESS"`,
    `curl -s -w '\\n' -X POST $API/auth/refresh -H "$json" -d "{\\"refreshToken\\":\\"$REFRESH\\",\\"accessToken\\":\\"$ACCESS\\"}"`,
    `curl -s -o /dev/null -w '%{http_code}\\n' -X POST $API/auth/logout -H "authorization: Bearer $ACCESS"`,
  ];
}
