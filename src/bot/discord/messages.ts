/** A platform-neutral Reply as a Discord message body (content, button rows, files). */
import { ButtonStyle, ComponentType, type APIActionRowComponent, type APIButtonComponent } from 'discord-api-types/v10';
import type { Reply } from '../../../commands/types.ts';

export interface DiscordMessage {
  content: string;
  components: APIActionRowComponent<APIButtonComponent>[];
  files: { name: string; data: Buffer }[];
  /** Only the reply's own `mentions` ping: a prompt echoed back with @everyone or <@&role> pings nobody. */
  allowedMentions: { parse: []; users: string[] };
}

const STYLE = { primary: ButtonStyle.Primary, secondary: ButtonStyle.Secondary, danger: ButtonStyle.Danger } as const;

export function discordMessage(reply: Reply): DiscordMessage {
  const buttons = (reply.buttons ?? []).slice(0, 25);
  const components: APIActionRowComponent<APIButtonComponent>[] = [];
  for (let i = 0; i < buttons.length; i += 5) {
    components.push({
      type: ComponentType.ActionRow,
      components: buttons.slice(i, i + 5).map((b) => ({ type: ComponentType.Button, custom_id: b.id, label: b.label, style: STYLE[b.style ?? 'secondary'] })),
    });
  }
  const files = [
    ...(reply.images ?? []).map((i) => ({ name: i.name, data: Buffer.from(i.png) })),
    ...(reply.files ?? []).map((f) => ({ name: f.name, data: Buffer.from(f.data) })),
  ];
  const content = reply.text.length > 2000 ? `${reply.text.slice(0, 1990)}…` : reply.text;
  return { content, components, files, allowedMentions: { parse: [], users: reply.mentions ?? [] } };
}

/** The REST form: JSON body + files, `attachments` naming exactly the new files (so they replace old ones). */
export function restMessage(reply: Reply) {
  const m = discordMessage(reply);
  return {
    body: {
      content: m.content,
      components: m.components,
      attachments: m.files.map((f, i) => ({ id: i, filename: f.name })),
      allowed_mentions: m.allowedMentions,
    },
    files: m.files.map((f) => ({ name: f.name, data: f.data })),
  };
}
