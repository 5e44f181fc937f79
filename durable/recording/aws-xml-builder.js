// Build-time stand-in for @aws-sdk/xml-builder (wrangler.toml [alias]): the same package's own
// modules, but its pure-JS XML parser instead of the browser one, which needs DOMParser (workerd
// has none). Only the import path differs; no code is replaced.
export { XmlNode } from "../../node_modules/@aws-sdk/xml-builder/dist-es/XmlNode.js";
export { XmlText } from "../../node_modules/@aws-sdk/xml-builder/dist-es/XmlText.js";
export { parseXML } from "../../node_modules/@aws-sdk/xml-builder/dist-es/xml-parser.js";
