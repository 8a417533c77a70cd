using System.CommandLine;
using SnicRuntime.Contracts.Plans;
using SnicRuntime.Management.Fleet;

namespace SnicRuntime.Ctl;

/// <summary><c>snicctl plans validate &lt;plan.json&gt;</c>: whole-plan validation without a card.</summary>
internal static class PlanCommands
{
    public static Command Create()
    {
        var file = new Argument<string>("plan") { Description = "change-plan JSON file" };
        var validate = new Command("validate", "check a change plan and list every error with its JSON path") { file };
        validate.SetAction(parse =>
        {
            string path = parse.GetValue(file)!;
            int rc = PlanFiles.Load(path, 0, out var plan);
            if (rc == ExitCodes.Ok)
            {
                Console.WriteLine($"{path}: valid, generation {plan!.GenerationNumber}: {plan.EniList.Count} ENIs, {plan.VnetList.Count} VNETs, {plan.MappingList.Count} mappings, {plan.RouteTablesByName.Count} route tables");
            }

            return rc;
        });
        var list = new Command("list", "the journaled generations (from the store) and where each card served whole plans stands");
        list.SetAction((parse, cancel) => WithJournal(parse, "plans list", async (state, journal) =>
        {
            IReadOnlyList<JournalRecord> plans = await journal.Generations(cancel);
            ILookup<long, Management.Delivery> deliveries = state.Deliveries().ToLookup(d => d.Generation);
            if (parse.GetValue(State.Json))
            {
                State.WriteJson(w =>
                {
                    w.WriteStartArray();
                    foreach (JournalRecord p in plans)
                    {
                        w.WriteStartObject();
                        w.WriteNumber("generation", p.Generation);
                        w.WriteString("sha256", p.Sha256);
                        w.WriteString("created", p.Created);
                        w.WriteString("by", p.By);
                        w.WriteNumber("objects", p.Objects);
                        w.WriteNumber("changed", p.Changes);
                        w.WriteStartObject("cards");
                        foreach (var d in deliveries[p.Generation])
                        {
                            w.WriteString(d.Card, d.State);
                        }

                        w.WriteEndObject();
                        w.WriteEndObject();
                    }

                    w.WriteEndArray();
                });
                return ExitCodes.Ok;
            }

            Console.WriteLine($"{"GENERATION",10}  {"CREATED",-25} {"BY",-24} {"OBJECTS",7} {"CHANGED",7}  CARDS");
            foreach (JournalRecord p in plans)
            {
                string cards = string.Join(", ", deliveries[p.Generation].Select(d => $"{d.Card}={d.State}"));
                Console.WriteLine($"{p.Generation,10}  {p.Created,-25:u} {p.By,-24} {p.Objects,7} {p.Changes,7}  {cards}");
            }

            return ExitCodes.Ok;
        }));

        var generation = new Argument<long>("generation") { Description = "journaled generation" };
        var show = new Command("show", "print a journaled generation's plan, rebuilt from the store's journal") { generation };
        show.SetAction((parse, cancel) => WithJournal(parse, "plans show", async (_, journal) =>
        {
            Console.WriteLine(PlanJson.Write(await journal.Plan(parse.GetValue(generation), cancel)));
            return ExitCodes.Ok;
        }));

        var from = new Argument<long>("from") { Description = "older generation" };
        var to = new Argument<long>("to") { Description = "newer generation" };
        var diff = new Command("diff", "what changed between two journaled generations, object by object") { from, to };
        diff.SetAction((parse, cancel) => WithJournal(parse, "plans diff", async (_, journal) =>
        {
            string a = PlanJson.Write(await journal.Plan(parse.GetValue(from), cancel));
            string b = PlanJson.Write(await journal.Plan(parse.GetValue(to), cancel));
            var changes = Management.PlanDiff.Compare(a, b);
            if (parse.GetValue(State.Json))
            {
                State.WriteJson(w =>
                {
                    w.WriteStartArray();
                    foreach (var c in changes)
                    {
                        w.WriteStartObject();
                        w.WriteString("change", c.Kind switch { '+' => "added", '-' => "removed", _ => "changed" });
                        w.WriteString("section", c.Section);
                        w.WriteString("key", c.Key);
                        w.WriteEndObject();
                    }

                    w.WriteEndArray();
                });
                return ExitCodes.Ok;
            }

            Console.WriteLine(changes.Count == 0 ? "no changes" : string.Join('\n', changes));
            return ExitCodes.Ok;
        }));

        return new Command("plans", "change plans") { validate, list, show, diff };
    }

    /// <summary>Opens this host's state and the store's journal (adopting a journal this host kept before it moved there); store faults and missing generations are named.</summary>
    private static async Task<int> WithJournal(ParseResult parse, string command, Func<Management.ManagementStore, PlanJournal, Task<int>> body)
    {
        using Management.ManagementStore state = State.Open(parse);
        return await FleetCommands.WithStore(parse, command, async store =>
        {
            try
            {
                await new Management.PlanDelivery(state, store).AdoptLegacy();
                return await body(state, new PlanJournal(store));
            }
            catch (JournalMissException e)
            {
                Console.Error.WriteLine($"snicctl {command}: {e.Message}");
                return ExitCodes.Rejected;
            }
        });
    }
}
