using SnicRuntime.Management.Fleet;
using SnicRuntime.Management.Store;
using System.CommandLine;
using System.Text.Json;
using SnicRuntime.Management;
using Spectre.Console;

namespace SnicRuntime.Ctl;

/// <summary><c>snicctl ha pair|show|switchover|unpair</c>: HA sets of two cards and their scopes.</summary>
internal static class HaCommands
{
    public static Command Create()
    {
        var ha = new Command("ha", "high availability: pair cards, show scopes, planned switchover, unpair");
        ha.Subcommands.Add(Pair());
        ha.Subcommands.Add(Show());
        ha.Subcommands.Add(Switchover());
        ha.Subcommands.Add(Unpair());
        return ha;
    }

    private static Command Pair()
    {
        var a = new Argument<string>("card-a") { Description = "the card that starts active for the scopes that name no card" };
        var b = new Argument<string>("card-b") { Description = "the other card of the pair" };
        var scope = new Option<string[]>("--scope")
        {
            Description = "NAME=ENI[,ENI...][@CARD] (repeat for more scopes); @CARD: the scope starts active on that card (default card A)",
            Required = true,
            AllowMultipleArgumentsPerToken = false,
        };
        var syncA = new Option<string>("--sync-a") { Description = "address:port of card A's replication channel (UDP)", Required = true };
        var syncB = new Option<string>("--sync-b") { Description = "address:port of card B's replication channel (UDP)", Required = true };
        var syncAVia = new Option<string?>("--sync-a-via") { Description = "where card B reaches card A's replication channel when not at --sync-a (a relay between them)" };
        var syncBVia = new Option<string?>("--sync-b-via") { Description = "where card A reaches card B's replication channel when not at --sync-b" };
        var underlayA = new Option<string>("--underlay-a") { Description = "card A's own underlay IPv4 address (the standby redirects to it)", DefaultValueFactory = _ => "172.16.2.1" };
        var underlayB = new Option<string>("--underlay-b") { Description = "card B's own underlay IPv4 address", DefaultValueFactory = _ => "172.16.2.2" };
        var command = new Command("pair", "pair two cards: a fresh AES-GCM key, term 1, each scope active on card A or the card it names") { a, b, scope, syncA, syncB, syncAVia, syncBVia, underlayA, underlayB };
        command.SetAction(async (parse, cancel) =>
        {
            var scopes = new List<(string, IReadOnlyList<string>, string?)>();
            foreach (string s in parse.GetValue(scope) ?? [])
            {
                string[] parts = s.Split('=', 2);
                string members = parts.Length == 2 ? parts[1] : "";
                string? active = null;
                int at = members.LastIndexOf('@');
                if (at >= 0)
                {
                    active = members[(at + 1)..].Trim();
                    members = members[..at];
                }

                string[] enis = members.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
                if (parts[0].Length == 0 || enis.Length == 0 || active is "")
                {
                    Console.Error.WriteLine($"snicctl ha pair: --scope '{s}' is not NAME=ENI[,ENI...][@CARD]");
                    return ExitCodes.Usage;
                }

                scopes.Add((parts[0], enis, active));
            }

            using ManagementStore state = State.Open(parse);
            var control = new HaControl(state, State.Identity(parse));
            var (errors, cards) = await control.Pair(parse.GetValue(a)!, parse.GetValue(b)!, scopes, Via(parse.GetValue(syncA)!, parse.GetValue(syncAVia)), Via(parse.GetValue(syncB)!, parse.GetValue(syncBVia)),
                parse.GetValue(underlayA)!, parse.GetValue(underlayB)!, cancel);
            foreach (string e in errors)
            {
                Console.Error.WriteLine($"snicctl ha pair: {e}");
            }

            if (errors.Count != 0)
            {
                return ExitCodes.Rejected;
            }

            return Report("paired", cards);
        });
        return command;
    }

    private static Command Show()
    {
        var command = new Command("show", "every HA scope: its cards, which holds it under which term, and each card's view (state, peer, sync lag)");
        command.SetAction(async (parse, cancel) =>
        {
            using ManagementStore state = State.Open(parse);
            var control = new HaControl(state, State.Identity(parse));
            IReadOnlyList<HaScopeRecord> scopes = state.HaScopes();
            IReadOnlyList<(string Card, AgentReply Reply)> views = await control.Status(cancel);
            if (parse.GetValue(State.Json))
            {
                State.WriteJson(w =>
                {
                    w.WriteStartObject();
                    w.WriteStartArray("scopes");
                    foreach (HaScopeRecord s in scopes)
                    {
                        w.WriteStartObject();
                        w.WriteString("scope", s.Scope);
                        w.WriteString("card_a", s.CardA);
                        w.WriteString("card_b", s.CardB);
                        w.WriteString("active", s.Active);
                        w.WriteNumber("term", s.Term);
                        w.WriteString("enis", string.Join(',', s.Enis));
                        w.WriteEndObject();
                    }

                    w.WriteEndArray();
                    w.WriteStartObject("cards");
                    foreach ((string card, AgentReply reply) in views)
                    {
                        w.WritePropertyName(card);
                        if (reply.Ok)
                        {
                            reply.Body!.Value.WriteTo(w);
                        }
                        else
                        {
                            w.WriteStartObject();
                            w.WriteString("problem", reply.Reason);
                            w.WriteEndObject();
                        }
                    }

                    w.WriteEndObject();
                    w.WriteEndObject();
                });
                return ExitCodes.Ok;
            }

            if (scopes.Count == 0)
            {
                Console.WriteLine("no HA scopes (snicctl ha pair A B --scope NAME=ENI ...)");
                return ExitCodes.Ok;
            }

            var table = new Table().Border(TableBorder.Rounded).AddColumns("scope", "ENIs", "held by", "term", "card", "state", "peer", "sync lag", "held pkts");
            foreach (HaScopeRecord s in scopes)
            {
                foreach (string card in new[] { s.CardA, s.CardB })
                {
                    AgentReply? reply = views.FirstOrDefault(v => v.Card == card).Reply;
                    string stateText = "unreachable", peer = "-", lag = "-", held = "-";
                    if (reply is { Ok: true })
                    {
                        JsonElement body = reply.Body!.Value;
                        JsonElement sc = body.GetProperty("scopes").EnumerateArray().FirstOrDefault(x => x.GetProperty("name").GetString() == s.Scope);
                        stateText = sc.ValueKind == JsonValueKind.Object ? $"{sc.GetProperty("state").GetString()} (term {sc.GetProperty("term").GetInt64()})" : "not paired";
                        peer = body.GetProperty("peer_up").GetBoolean() ? "up" : "lost";
                        lag = body.GetProperty("sync_lag").GetInt64().ToString(System.Globalization.CultureInfo.InvariantCulture);
                        held = body.GetProperty("flows_held").GetInt64().ToString(System.Globalization.CultureInfo.InvariantCulture);
                    }

                    table.AddRow(Markup.Escape(s.Scope), Markup.Escape(string.Join(',', s.Enis)), Markup.Escape(s.Active),
                        s.Term.ToString(System.Globalization.CultureInfo.InvariantCulture), Markup.Escape(card), Markup.Escape(stateText), peer, lag, held);
                }
            }

            AnsiConsole.Write(table);
            return ExitCodes.Ok;
        });
        return command;
    }

    private static string Via(string bind, string? reach) => reach is null ? bind : $"{bind} via {reach}";

    private static Command Switchover()
    {
        var scope = new Argument<string>("scope-or-eni") { Description = "the HA scope (or an ENI in it) to move to its standby card" };
        var command = new Command("switchover", "planned switchover: the next term; the active drains and hands over, the standby takes over; nothing lost") { scope };
        command.SetAction(async (parse, cancel) =>
        {
            using ManagementStore state = State.Open(parse);
            // The next term is taken in the fleet store (compare-and-swap), where the witness
            // grants terms too: a switchover the store does not know of would leave the witness
            // disagreeing with the inventory about who holds the scope.
            (IStateStore? fleet, int storeExit) = FleetStore.Open(parse, "ha switchover");
            if (fleet is null)
            {
                return storeExit;
            }

            await using var fleetLifetime = fleet;
            var (error, cards) = await new HaControl(state, State.Identity(parse)) { Terms = new TermGrants(fleet) }.Switchover(parse.GetValue(scope)!, cancel);
            if (error is not null)
            {
                Console.Error.WriteLine($"snicctl ha switchover: {error}");
                return cards.Count == 0 ? ExitCodes.Rejected : ExitCodes.Unreachable;
            }

            return Report("switching", cards);
        });
        return command;
    }

    private static Command Unpair()
    {
        var a = new Argument<string>("card-a");
        var b = new Argument<string>("card-b");
        var command = new Command("unpair", "dissolve the pair: both cards forget it, their scopes forward alone") { a, b };
        command.SetAction(async (parse, cancel) =>
        {
            using ManagementStore state = State.Open(parse);
            return Report("unpaired", await new HaControl(state, State.Identity(parse)).Unpair(parse.GetValue(a)!, parse.GetValue(b)!, cancel));
        });
        return command;
    }

    private static int Report(string what, IReadOnlyList<HaCardOutcome> cards)
    {
        foreach (HaCardOutcome c in cards)
        {
            Console.WriteLine(c.Ok ? $"{c.Card}: {what}" : $"{c.Card}: FAILED — {c.Detail}");
        }

        return cards.All(c => c.Ok) ? ExitCodes.Ok : ExitCodes.Unreachable;
    }
}
