using System.CommandLine;
using System.Text.Json;
using SnicRuntime.Management;
using SnicRuntime.Management.Fleet;
using SnicRuntime.Contracts.Plans;
using SnicRuntime.Management.Store;

namespace SnicRuntime.Ctl;

/// <summary>
/// The fleet in the store: <c>snicctl sets create|list|show</c>, <c>snicctl eni place|list</c> and
/// <c>snicctl controllers</c>. Each reads or changes the store named by <c>--store</c>; a refused
/// change (unknown set, ENI placed twice, ...) exits 1 and changes nothing; an unreachable store exits 5.
/// </summary>
internal static class FleetCommands
{
    public static Command Sets()
    {
        var name = new Argument<string>("name") { Description = "set name" };
        var cards = new Option<string>("--cards") { Description = "the set's two cards, A,B (from the inventory)", Required = true };
        var create = new Command("create", "create an HA set of two cards") { name, cards };
        create.SetAction((parse, cancel) => WithStore(parse, "sets create", async store =>
        {
            string[] pair = parse.GetValue(cards)!.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
            using (ManagementStore inventory = State.Open(parse))
            {
                foreach (string card in pair)
                {
                    // This host's inventory, or the fleet's (a card added from another host).
                    if (inventory.FindCard(card) is null && (card.Contains('/', StringComparison.Ordinal) || await store.Get(FleetKeys.Inventory(card), cancel) is null))
                    {
                        throw new PlacementException($"no card named '{card}' in the inventory (snicctl cards list)");
                    }
                }
            }

            HaSetRecord set = await new Placement(store).CreateSet(parse.GetValue(name)!, pair, cancel);
            Console.WriteLine($"set '{set.Name}' created: {string.Join(", ", set.Cards)}");
            return ExitCodes.Ok;
        }));

        var list = new Command("list", "list the HA sets and how many ENIs each holds");
        list.SetAction((parse, cancel) => WithStore(parse, "sets list", async store =>
        {
            IReadOnlyList<HaSetView> sets = await new Placement(store).Sets(cancel);
            if (parse.GetValue(State.Json))
            {
                State.WriteJson(w =>
                {
                    w.WriteStartArray();
                    foreach (HaSetView s in sets)
                    {
                        WriteSet(w, s);
                    }

                    w.WriteEndArray();
                });
            }
            else
            {
                Console.WriteLine($"{"SET",-20} {"CARDS",-32} ENIS");
                foreach (HaSetView s in sets)
                {
                    Console.WriteLine($"{s.Set.Name,-20} {string.Join(",", s.Set.Cards),-32} {s.Enis.Count}");
                }
            }

            return ExitCodes.Ok;
        }));

        var showName = new Argument<string>("name") { Description = "set name" };
        var show = new Command("show", "show one HA set: its cards and the ENIs placed on it") { showName };
        show.SetAction((parse, cancel) => WithStore(parse, "sets show", async store =>
        {
            HaSetView s = await new Placement(store).Set(parse.GetValue(showName)!, cancel);
            if (parse.GetValue(State.Json))
            {
                State.WriteJson(w => WriteSet(w, s));
            }
            else
            {
                Console.WriteLine($"set {s.Set.Name}\n  cards: {string.Join(", ", s.Set.Cards)}\n  enis:  {(s.Enis.Count == 0 ? "(none)" : string.Join(", ", s.Enis))}");
            }

            return ExitCodes.Ok;
        }));

        return new Command("sets", "HA sets: pairs of cards that ENIs are placed on") { create, list, show };
    }

    public static Command Eni()
    {
        var eni = new Argument<string>("eni") { Description = "ENI name (as the plan names it)" };
        var set = new Option<string?>("--set") { Description = "the set to place it on (default: the set with the fewest ENIs)" };
        var move = new Option<bool>("--move") { Description = "move an ENI that is already placed" };
        var place = new Command("place", "place an ENI on an HA set") { eni, set, move };
        place.SetAction((parse, cancel) => WithStore(parse, "eni place", async store =>
        {
            HashSet<string> known = await KnownEnis(store, cancel);
            PlacementRecord p = await new Placement(store).Place(parse.GetValue(eni)!, parse.GetValue(set), parse.GetValue(move), known.Contains, cancel);
            Console.WriteLine($"ENI '{p.Eni}' placed on set '{p.Set}'");
            return ExitCodes.Ok;
        }));

        var list = new Command("list", "list each placed ENI and its set");
        list.SetAction((parse, cancel) => WithStore(parse, "eni list", async store =>
        {
            IReadOnlyList<PlacementRecord> enis = await new Placement(store).Enis(cancel);
            if (parse.GetValue(State.Json))
            {
                State.WriteJson(w =>
                {
                    w.WriteStartArray();
                    foreach (PlacementRecord p in enis)
                    {
                        w.WriteStartObject();
                        w.WriteString("eni", p.Eni);
                        w.WriteString("set", p.Set);
                        w.WriteEndObject();
                    }

                    w.WriteEndArray();
                });
            }
            else
            {
                Console.WriteLine($"{"ENI",-24} SET");
                foreach (PlacementRecord p in enis)
                {
                    Console.WriteLine($"{p.Eni,-24} {p.Set}");
                }
            }

            return ExitCodes.Ok;
        }));

        return new Command("eni", "ENI placement on HA sets") { place, list };
    }

    public static Command Controllers()
    {
        var command = new Command("controllers", "the controllers sharing the store: who leads, since when, which store");
        command.SetAction((parse, cancel) => WithStore(parse, "controllers", async store =>
        {
            ControllerRecord? leader = await ControllerElection.Leader(store, cancel);
            IReadOnlyList<ControllerRecord> members = await ControllerElection.Members(store, cancel);
            string where = FleetStore.Parse(parse).ToString();
            if (parse.GetValue(State.Json))
            {
                State.WriteJson(w =>
                {
                    w.WriteStartObject();
                    w.WriteString("store", where);
                    if (leader is null)
                    {
                        w.WriteNull("leader");
                    }
                    else
                    {
                        w.WriteString("leader", leader.Id);
                        w.WriteString("leader_since", leader.Since);
                    }

                    w.WriteStartArray("controllers");
                    foreach (ControllerRecord c in members)
                    {
                        w.WriteStartObject();
                        w.WriteString("id", c.Id);
                        w.WriteString("host", c.Host);
                        w.WriteNumber("pid", c.Pid);
                        w.WriteString("started", c.Since);
                        w.WriteBoolean("leader", c.Id == leader?.Id);
                        w.WriteEndObject();
                    }

                    w.WriteEndArray();
                    w.WriteEndObject();
                });
            }
            else
            {
                Console.WriteLine($"store {where}");
                Console.WriteLine(leader is null ? "no controller leads" : $"leader {leader.Id} since {leader.Since:u}");
                foreach (ControllerRecord c in members)
                {
                    Console.WriteLine($"  {c.Id,-20} {c.Host}:{c.Pid,-8} started {c.Since:u}{(c.Id == leader?.Id ? "  (leader)" : "")}");
                }
            }

            return ExitCodes.Ok;
        }));
        return command;
    }

    private static void WriteSet(Utf8JsonWriter w, HaSetView s)
    {
        w.WriteStartObject();
        w.WriteString("name", s.Set.Name);
        w.WriteStartArray("cards");
        foreach (string c in s.Set.Cards)
        {
            w.WriteStringValue(c);
        }

        w.WriteEndArray();
        w.WriteStartArray("enis");
        foreach (string e in s.Enis)
        {
            w.WriteStringValue(e);
        }

        w.WriteEndArray();
        w.WriteEndObject();
    }

    /// <summary>The ENIs the desired plan names (its ENI keys only): placement is for ENIs the desired state has.</summary>
    private static async Task<HashSet<string>> KnownEnis(IStateStore store, CancellationToken cancel)
    {
        (IReadOnlyList<StoreEntry> enis, _) = await store.Range(FleetKeys.PlanObjects + "enis/", cancel);
        return enis.Select(e => PlanObjects.Owner(e.Key[FleetKeys.PlanObjects.Length..])["enis/".Length..]).ToHashSet(StringComparer.Ordinal);
    }

    internal static async Task<int> WithStore(ParseResult parse, string command, Func<IStateStore, Task<int>> body)
    {
        (IStateStore? store, int exit) = FleetStore.Open(parse, command);
        if (store is null)
        {
            return exit;
        }

        await using (store)
        {
            try
            {
                return await body(store);
            }
            catch (PlacementException e)
            {
                Console.Error.WriteLine($"snicctl {command}: {e.Message}");
                return ExitCodes.Rejected;
            }
            catch (StoreException e)
            {
                Console.Error.WriteLine($"snicctl {command}: {e.Message}");
                return ExitCodes.StoreUnavailable;
            }
        }
    }
}
