// A <secret> description for driver tests; `usage` is [type, id], the id
// element named as libvirt's secret schema names it for that usage type.
const USAGE_ID_ELEMENT: Record<string, string> = { volume: "volume", ceph: "name", iscsi: "target", tls: "name", vtpm: "name" };

export function secretXML(o: { uuid?: string; ephemeral?: boolean; private?: boolean; description?: string; usage?: [string, string] } = {}): string {
  const attrs = `ephemeral='${o.ephemeral ? "yes" : "no"}' private='${o.private ? "yes" : "no"}'`;
  let body = "";
  if (o.uuid !== undefined) body += `<uuid>${o.uuid}</uuid>`;
  if (o.description !== undefined) body += `<description>${o.description}</description>`;
  if (o.usage !== undefined) {
    const el = USAGE_ID_ELEMENT[o.usage[0]];
    body += `<usage type='${o.usage[0]}'><${el}>${o.usage[1]}</${el}></usage>`;
  }
  return `<secret ${attrs}>${body}</secret>`;
}
