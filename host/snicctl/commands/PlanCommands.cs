using System.CommandLine;

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
        var list = new Command("list", "the journaled generations and where each card stands");
        list.SetAction(parse =>
        {
            using Management.ManagementStore state = State.Open(parse);
            var plans = state.Plans();
            var deliveries = state.Deliveries();
            if (parse.GetValue(State.Json))
            {
                State.WriteJson(w =>
                {
                    w.WriteStartArray();
                    foreach (var p in plans)
                    {
                        w.WriteStartObject();
                        w.WriteNumber("generation", p.Generation);
                        w.WriteString("sha256", p.Sha256);
                        w.WriteString("created", p.Created);
                        w.WriteStartObject("cards");
                        foreach (var d in deliveries.Where(d => d.Generation == p.Generation))
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

            Console.WriteLine($"{"GENERATION",10}  {"CREATED",-25} CARDS");
            foreach (var p in plans)
            {
                string cards = string.Join(", ", deliveries.Where(d => d.Generation == p.Generation).Select(d => $"{d.Card}={d.State}"));
                Console.WriteLine($"{p.Generation,10}  {p.Created,-25:u} {cards}");
            }

            return ExitCodes.Ok;
        });

        var generation = new Argument<long>("generation") { Description = "journaled generation" };
        var show = new Command("show", "print a journaled plan as it was sent") { generation };
        show.SetAction(parse =>
        {
            using Management.ManagementStore state = State.Open(parse);
            var plan = state.Plans().FirstOrDefault(p => p.Generation == parse.GetValue(generation));
            if (plan is null)
            {
                Console.Error.WriteLine($"snicctl plans show: no generation {parse.GetValue(generation)} in the journal");
                return ExitCodes.Rejected;
            }

            Console.WriteLine(plan.Json);
            return ExitCodes.Ok;
        });

        var from = new Argument<long>("from") { Description = "older generation" };
        var to = new Argument<long>("to") { Description = "newer generation" };
        var diff = new Command("diff", "what changed between two journaled generations, object by object") { from, to };
        diff.SetAction(parse =>
        {
            using Management.ManagementStore state = State.Open(parse);
            var plans = state.Plans();
            var a = plans.FirstOrDefault(p => p.Generation == parse.GetValue(from));
            var b = plans.FirstOrDefault(p => p.Generation == parse.GetValue(to));
            if (a is null || b is null)
            {
                Console.Error.WriteLine($"snicctl plans diff: generation {(a is null ? parse.GetValue(from) : parse.GetValue(to))} is not in the journal");
                return ExitCodes.Rejected;
            }

            var changes = Management.PlanDiff.Compare(a.Json, b.Json);
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
        });

        return new Command("plans", "change plans") { validate, list, show, diff };
    }
}
