using System.CommandLine;
using SnicRuntime.Management;
using SnicRuntime.Management.Fleet;
using SnicRuntime.Management.Store;

namespace SnicRuntime.Ctl;

/// <summary><c>snicctl cards add|list|remove|show</c>: the inventory.</summary>
internal static class CardCommands
{
    public static Command Create()
    {
        var name = new Argument<string>("name") { Description = "card name" };
        var address = new Option<string>("--address") { Description = "agent URL, e.g. http://127.0.0.1:9000", Required = true };
        var tokenFile = new Option<string?>("--token-file") { Description = "file holding the card's agent token (http agents; https agents use mutual TLS from `cards enroll`)" };
        var board = new Option<string?>("--board") { Description = "board id (informational)" };
        var add = new Command("add", "add a card to the inventory (this host's, and the fleet's in the store, so every controller reaches it)") { name, address, tokenFile, board };
        add.SetAction(async (parse, cancel) =>
        {
            if (!Uri.TryCreate(parse.GetValue(address), UriKind.Absolute, out Uri? uri) || uri.Scheme is not ("http" or "https"))
            {
                Console.Error.WriteLine($"snicctl cards add: --address '{parse.GetValue(address)}' is not an http(s) URL");
                return ExitCodes.Usage;
            }

            string token = "";
            if (uri.Scheme == "http" && parse.GetValue(tokenFile) is null)
            {
                Console.Error.WriteLine("snicctl cards add: an http agent needs --token-file (or enroll the card and use https)");
                return ExitCodes.Usage;
            }

            if (uri.Scheme == "https" && State.Identity(parse) is null)
            {
                Console.Error.WriteLine("snicctl cards add: an https agent needs mutual TLS: run `snicctl cards enroll` first");
                return ExitCodes.Usage;
            }

            try
            {
                token = parse.GetValue(tokenFile) is string f ? File.ReadAllText(f).Trim() : "";
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                Console.Error.WriteLine($"snicctl cards add: cannot read token file '{parse.GetValue(tokenFile)}': {e.Message}");
                return ExitCodes.InputError;
            }

            using ManagementStore state = State.Open(parse);
            var card = new Card(parse.GetValue(name)!, uri, token, parse.GetValue(board), "standalone", DateTimeOffset.UtcNow);
            if (state.FindCard(card.Name) is not null)
            {
                Console.Error.WriteLine($"snicctl cards add: a card named '{card.Name}' already exists");
                return ExitCodes.Rejected;
            }

            // The fleet's inventory first (compare-and-swap: one host wins a name), then this host's.
            int stored = await FleetCommands.WithStore(parse, "cards add", async store =>
            {
                try
                {
                    await new FleetInventory(store).Add(card, cancel);
                    return ExitCodes.Ok;
                }
                catch (InvalidOperationException e)
                {
                    throw new PlacementException(e.Message);
                }
            });
            if (stored != ExitCodes.Ok)
            {
                return stored;
            }

            try
            {
                state.AddCard(card);
            }
            catch (InvalidOperationException e)
            {
                // Added here meanwhile by another snicctl: take it back out of the fleet's inventory.
                await FleetCommands.WithStore(parse, "cards add", async store =>
                {
                    await new FleetInventory(store).Remove(card.Name, cancel);
                    return ExitCodes.Ok;
                });
                Console.Error.WriteLine($"snicctl cards add: {e.Message}");
                return ExitCodes.Rejected;
            }

            Console.WriteLine($"card '{card.Name}' added ({uri})");
            return ExitCodes.Ok;
        });

        var list = new Command("list", "list the cards and the generation each has acknowledged");
        list.SetAction(async (parse, cancel) =>
        {
            using ManagementStore state = State.Open(parse);
            long latest = 0;
            List<Card> cards = [.. state.Cards()];
            // Cards of HA sets: their share's delivery, from the store.
            (IStateStore? store, int storeExit) = FleetStore.Open(parse, "cards list");
            if (store is null)
            {
                return storeExit;
            }

            Dictionary<string, (string Card, string Set, DeliveryRecord? Last, bool InSync)> fleet;
            await using (store)
            {
                try
                {
                    latest = await new PlanJournal(store).Latest(cancel);
                    fleet = (await new FleetDelivery(store, state).Status(cancel)).ToDictionary(f => f.Card, StringComparer.Ordinal);
                    // Cards another host added: in the fleet's inventory, not this host's.
                    cards.AddRange((await new FleetInventory(store).All(cancel)).Where(f => !cards.Exists(c => c.Name == f.Name)));
                    cards.Sort((a, b) => string.CompareOrdinal(a.Name, b.Name));
                }
                catch (StoreException e)
                {
                    Console.Error.WriteLine($"snicctl cards list: {e.Message}");
                    return ExitCodes.StoreUnavailable;
                }
            }

            if (parse.GetValue(State.Json))
            {
                State.WriteJson(w =>
                {
                    w.WriteStartArray();
                    foreach (Card c in cards)
                    {
                        w.WriteStartObject();
                        w.WriteString("name", c.Name);
                        w.WriteString("address", c.Address.ToString());
                        w.WriteString("board", c.Board);
                        w.WriteString("role", c.Role);
                        if (fleet.TryGetValue(c.Name, out var f))
                        {
                            w.WriteString("set", f.Set);
                            w.WriteNumber("revision", f.Last?.Revision ?? 0);
                            w.WriteString("delivery", f.Last?.State ?? "never");
                            w.WriteBoolean("in_sync", f.InSync);
                        }
                        else
                        {
                            w.WriteNumber("acked_generation", state.AckedGeneration(c.Name));
                            w.WriteNumber("latest_generation", latest);
                        }

                        w.WriteEndObject();
                    }

                    w.WriteEndArray();
                });
                return ExitCodes.Ok;
            }

            Console.WriteLine($"{"NAME",-16} {"ADDRESS",-32} {"BOARD",-12} {"GENERATION",10}");
            foreach (Card c in cards)
            {
                if (fleet.TryGetValue(c.Name, out var f))
                {
                    Console.WriteLine($"{c.Name,-16} {c.Address,-32} {c.Board ?? "-",-12} {f.Last?.Revision ?? 0,10} set {f.Set}: " +
                        (f.InSync ? "in sync" : $"behind ({f.Last?.State ?? "never delivered"}{(f.Last?.Detail.Length > 0 ? ": " + f.Last.Detail : "")})"));
                    continue;
                }

                long acked = state.AckedGeneration(c.Name);
                Console.WriteLine($"{c.Name,-16} {c.Address,-32} {c.Board ?? "-",-12} {acked,10}{(acked < latest ? $" (behind: latest {latest})" : "")}");
            }

            return ExitCodes.Ok;
        });

        var removeName = new Argument<string>("name") { Description = "card name" };
        var remove = new Command("remove", "remove a card from the inventory") { removeName };
        remove.SetAction(async (parse, cancel) =>
        {
            using ManagementStore state = State.Open(parse);
            string card = parse.GetValue(removeName)!;
            bool inFleet = false;
            int stored = await FleetCommands.WithStore(parse, "cards remove", async store =>
            {
                inFleet = !card.Contains('/', StringComparison.Ordinal) && await new FleetInventory(store).Remove(card, cancel);
                return ExitCodes.Ok;
            });
            if (stored != ExitCodes.Ok)
            {
                return stored;
            }

            if (!state.RemoveCard(card) && !inFleet)
            {
                Console.Error.WriteLine($"snicctl cards remove: no card named '{card}'");
                return ExitCodes.Rejected;
            }

            Console.WriteLine($"card '{parse.GetValue(removeName)}' removed");
            return ExitCodes.Ok;
        });

        var showName = new Argument<string>("name") { Description = "card name" };
        var show = new Command("show", "ask a card's agent who it is and how it is") { showName };
        show.SetAction(async (parse, cancel) =>
        {
            using ManagementStore state = State.Open(parse);
            Card? card = state.FindCard(parse.GetValue(showName)!);
            if (card is null)
            {
                Console.Error.WriteLine($"snicctl cards show: no card named '{parse.GetValue(showName)}'");
                return ExitCodes.Rejected;
            }

            using var client = new AgentClient(card, identity: State.Identity(parse));
            AgentReply identity = await client.Get("/v1/identity", cancel);
            if (!identity.Ok)
            {
                Console.Error.WriteLine($"snicctl cards show: {identity.Reason}");
                return ExitCodes.Unreachable;
            }

            AgentReply health = await client.Get("/v1/health", cancel);
            if (parse.GetValue(State.Json))
            {
                State.WriteJson(w =>
                {
                    w.WriteStartObject();
                    w.WritePropertyName("identity");
                    identity.Body!.Value.WriteTo(w);
                    w.WritePropertyName("health");
                    if (health.Body is { } h)
                    {
                        h.WriteTo(w);
                    }
                    else
                    {
                        w.WriteNullValue();
                    }

                    w.WriteEndObject();
                });
                return ExitCodes.Ok;
            }

            var id = identity.Body!.Value;
            Console.WriteLine($"card {card.Name} at {card.Address}");
            Console.WriteLine($"  board     {id.GetProperty("board").GetString()} ({id.GetProperty("model").GetString()}), {id.GetProperty("workers").GetInt32()} workers, {id.GetProperty("ports").GetInt32()} ports");
            Console.WriteLine($"  firmware  {id.GetProperty("firmware_version").GetString()} sha256 {id.GetProperty("image_sha256").GetString()}");
            if (health.Body is { } hb)
            {
                Console.WriteLine($"  health    {hb.GetProperty("status").GetString()}, generation {hb.GetProperty("generation").GetInt64()}, up {hb.GetProperty("uptime_seconds").GetDouble():F0} s");
            }

            return ExitCodes.Ok;
        });

        var enrollName = new Argument<string>("name") { Description = "card name" };
        var outDir = new Option<string>("--out") { Description = "directory to write the card's card.pem and ca.pem (start it with --agent-tls DIR)", Required = true };
        var enroll = new Command("enroll", "issue a card its certificate from this management plane's authority (made on first use)") { enrollName, outDir };
        enroll.SetAction(parse =>
        {
            ManagementIdentity identity = ManagementIdentity.LoadOrCreate(State.Directory(parse));
            identity.Enroll(parse.GetValue(enrollName)!, parse.GetValue(outDir)!);
            Console.WriteLine($"card '{parse.GetValue(enrollName)}' enrolled: start it with --agent-tls {parse.GetValue(outDir)}, then `snicctl cards add {parse.GetValue(enrollName)} --address https://HOST:PORT`");
            return ExitCodes.Ok;
        });

        return new Command("cards", "the card inventory") { add, list, remove, show, enroll };
    }
}
