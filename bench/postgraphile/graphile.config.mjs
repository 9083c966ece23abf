// PostGraphile v5 as the GraphQL benchmark's peer. Connection, schema and port come from the
// command line (-c, -s, -p); this file adds what the command line has no flag for: the smart
// tags that declare Lvyue's relations, and no GraphiQL. Its imports resolve from the folder it
// sits in, so bench/run copies it next to the installed node_modules.
import { PostGraphileAmberPreset } from "postgraphile/presets/amber";
import { makePgSmartTagsFromFilePlugin } from "postgraphile/utils";
import { fileURLToPath } from "node:url";

const tagsFile = fileURLToPath(new URL("./postgraphile.tags.json5", import.meta.url));

/** @type {GraphileConfig.Preset} */
export default {
  extends: [PostGraphileAmberPreset],
  plugins: [makePgSmartTagsFromFilePlugin(tagsFile)],
  grafserv: { graphiql: false, graphiqlOnGraphQLGET: false, watch: false },
  grafast: { explain: false },
};
