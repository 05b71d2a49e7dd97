// Reads {url, token, operations: [{query, variables}]} as JSON on stdin, runs each operation
// through Apollo Client with its default InMemoryCache (as a browser editor would), then reads
// every operation back from the cache, and prints {results, reread} as JSON: the data Apollo
// hands the application, in the order given.
import { ApolloClient, HttpLink, InMemoryCache, gql } from "@apollo/client";

const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const { url, token, operations } = JSON.parse(Buffer.concat(chunks).toString("utf8"));

const client = new ApolloClient({
  link: new HttpLink({ uri: url, headers: token ? { authorization: `Bearer ${token}` } : {} }),
  cache: new InMemoryCache(),
});

const documents = operations.map(({ query, variables }) => ({ query: gql(query), variables }));
const results = [];
for (const document of documents) {
  const { data } = await client.query(document);
  results.push(data);
}
// After every query has written to the cache: what one query stored must not have been
// overwritten by another's objects of the same __typename and id.
const reread = documents.map((document) => client.readQuery(document));
process.stdout.write(JSON.stringify({ results, reread }));
