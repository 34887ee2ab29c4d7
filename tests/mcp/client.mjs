// End-to-end check of trm's MCP server with the official MCP TypeScript SDK client, over both
// transports: stdio (the SDK spawns `trm mcp`) and Streamable HTTP (POST /mcp of a running
// `trm serve`). Initialize, list the tools, call each, make a bad call; any failed expectation
// exits 1 with a message.
//   node client.mjs stdio TRM_BINARY SUDOKU_CHECKPOINT MAZE_CHECKPOINT   (served as s4 and m7)
//   node client.mjs http  URL (e.g. http://127.0.0.1:8080/mcp) [BEARER_TOKEN]  (a server with s4 and m7)
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";

const [mode, a, b, c] = process.argv.slice(2);
function check(cond, what) {
  if (!cond) {
    console.error(`mcp client (${mode}): FAILED: ${what}`);
    process.exit(1);
  }
}

let transport;
if (mode === "stdio") {
  transport = new StdioClientTransport({ command: a, args: ["mcp", "--model", `s4=${b}`, "--model", `m7=${c}`], stderr: "inherit" });
} else if (mode === "http") {
  const opts = b ? { requestInit: { headers: { Authorization: `Bearer ${b}` } } } : {};
  transport = new StreamableHTTPClientTransport(new URL(a), opts);
} else {
  console.error("usage: client.mjs stdio TRM SUDOKU_CKPT MAZE_CKPT | http URL [TOKEN]");
  process.exit(2);
}

const client = new Client({ name: "trm-e2e", version: "1.0.0" });
await client.connect(transport);
const info = client.getServerVersion();
check(info && info.name === "trm", `serverInfo.name is "trm" (got ${JSON.stringify(info)})`);

const { tools } = await client.listTools();
const names = tools.map((t) => t.name).sort();
check(JSON.stringify(names) === JSON.stringify(["list_models", "solve_grid", "solve_maze", "solve_sudoku"]),
      `tools are list_models, solve_grid, solve_maze, solve_sudoku (got ${names})`);
for (const t of tools) check(t.inputSchema && t.inputSchema.type === "object", `${t.name} has an object inputSchema`);

const models = await client.callTool({ name: "list_models", arguments: {} });
check(!models.isError, "list_models succeeds");
const m = models.structuredContent.models;
check(m.length === 2 && m[0].name === "s4" && m[0].task === "sudoku" && m[0].rows === 4 && m[1].name === "m7" &&
      m[1].task === "maze" && m[1].rows === 7, `list_models shows s4 (4x4 Sudoku) and m7 (7x7 maze) (got ${JSON.stringify(m)})`);

const puzzle = "1..4\n..1.\n.1..\n4..1";
const solved = await client.callTool({ name: "solve_sudoku", arguments: { puzzle } });
check(!solved.isError, `solve_sudoku succeeds (got ${JSON.stringify(solved)})`);
const sc = solved.structuredContent;
check(Array.isArray(sc.grid) && sc.grid.length === 4 && sc.grid.every((r) => r.length === 4), "solve_sudoku returns a 4x4 grid");
check(sc.steps >= 1 && sc.confidence.length === sc.steps, "steps >= 1 and one confidence per step");
check(typeof sc.verified === "boolean", "verified is a boolean for Sudoku");
check(solved.content[0].type === "text" && solved.content[0].text.includes("supervision step"), "a text result too");
// The givens are kept in the answer grid when it is verified.
if (sc.verified) check(sc.grid[0][0] === 1 && sc.grid[0][3] === 4 && sc.grid[3][0] === 4, "verified answer keeps the givens");

const grid = await client.callTool({ name: "solve_grid", arguments: { model: "s4", grid: [[1, 0, 0, 4], [0, 0, 1, 0], [0, 1, 0, 0], [4, 0, 0, 1]] } });
check(!grid.isError, `solve_grid succeeds (got ${JSON.stringify(grid)})`);
check(JSON.stringify(grid.structuredContent.grid) === JSON.stringify(sc.grid), "solve_grid and solve_sudoku give the same answer");

const mazeText = "#######\n#S    #\n##### #\n#     #\n# #####\n#    G#\n#######";
const maze = await client.callTool({ name: "solve_maze", arguments: { maze: mazeText } });
check(!maze.isError, `solve_maze succeeds (got ${JSON.stringify(maze)})`);
const ms = maze.structuredContent;
check(ms.model === "m7" && ms.grid.length === 7 && ms.grid.every((r) => r.length === 7), "solve_maze answers on m7 with a 7x7 grid");
check(typeof ms.verified === "boolean" && ms.steps >= 1, "solve_maze: verified is a boolean, steps >= 1");
const wrongModel = await client.callTool({ name: "solve_maze", arguments: { maze: mazeText, model: "s4" } });
check(wrongModel.isError === true && /no maze model/.test(wrongModel.content[0].text), "solve_maze on a Sudoku model is a tool error");
const badMaze = await client.callTool({ name: "solve_maze", arguments: { maze: "#S#\n###\n#G#" } });
check(badMaze.isError === true, `a maze of the wrong size is a tool error (got ${JSON.stringify(badMaze)})`);

const bad = await client.callTool({ name: "solve_sudoku", arguments: { puzzle: "123" } });
check(bad.isError === true && bad.content[0].text.length > 0, `a bad puzzle is a tool error with a message (got ${JSON.stringify(bad)})`);
const badArg = await client.callTool({ name: "solve_sudoku", arguments: { puzzle, colour: "red" } });
check(badArg.isError === true && /unknown argument/.test(badArg.content[0].text), "an unknown argument is a tool error");

let protocolError = false;
try {
  await client.callTool({ name: "no_such_tool", arguments: {} });
} catch (e) {
  protocolError = true;
}
check(protocolError, "an unknown tool is a protocol error");
await client.ping();
await client.close();
console.log(`mcp client (${mode}): ok (${tools.length} tools, sudoku ${sc.verified ? "verified" : "unverified"} in ${sc.steps} steps)`);
