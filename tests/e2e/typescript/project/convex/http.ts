import { httpRouter, httpActionGeneric as httpAction } from "convex/server";

const http = httpRouter();
http.route({ path: "/hello", method: "GET", handler: httpAction(async () => new Response("hi")) });
http.route({ pathPrefix: "/files/", method: "POST", handler: httpAction(async () => new Response("stored")) });
export default http;
