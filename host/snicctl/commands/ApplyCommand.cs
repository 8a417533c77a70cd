using System.CommandLine;
using SnicRuntime.Management;
using SnicRuntime.Management.Fleet;
using SnicRuntime.Management.Store;

namespace SnicRuntime.Ctl;

/// <summary><c>snicctl apply plan.json</c>: validate, publish as the next generation (journaled in the store), deliver to every card.</summary>
internal static class ApplyCommand
{
    public static Command Create()
    {
        var file = new Argument<string>("plan") { Description = "change-plan JSON file" };
        var apply = new Command("apply", "validate a change plan, journal it as the next generation and deliver it to every card") { file };
        apply.SetAction(async (parse, cancel) =>
        {
            string path = parse.GetValue(file)!;
            string json;
            try
            {
                json = await File.ReadAllTextAsync(path, cancel);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                Console.Error.WriteLine($"snicctl apply: cannot read plan '{path}': {e.Message}");
                return ExitCodes.InputError;
            }

            using ManagementStore state = State.Open(parse);
            (IStateStore? store, int storeExit) = FleetStore.Open(parse, "apply");
            if (store is null)
            {
                return storeExit;
            }

            await using var storeLifetime = store;
            await using var fleet = new FleetDelivery(store, state, State.Identity(parse));
            ApplyOutcome outcome;
            try
            {
                // Published (and journaled) in the store; cards of HA sets get their share of the plan
                // from the fleet delivery, the others the whole plan.
                outcome = await new PlanDelivery(state, store, State.Identity(parse)) { Delegated = fleet.ManagedCards, Shares = fleet.CheckShares, FleetCards = fleet.InventoryCards }.Apply(json, cancel);
                if (outcome.Journaled)
                {
                    outcome = outcome with { Cards = [.. outcome.Cards, .. await fleet.Round(null, cancel)] };
                }
            }
            catch (StoreException e)
            {
                Console.Error.WriteLine($"snicctl apply: {e.Message}");
                return ExitCodes.StoreUnavailable;
            }

            if (!outcome.Journaled)
            {
                Console.Error.WriteLine($"snicctl apply: plan '{path}' has {outcome.Errors.Count} error(s); nothing published or sent:");
                foreach (var e in outcome.Errors)
                {
                    Console.Error.WriteLine($"  {e.Path}: {e.Reason}");
                }

                return ExitCodes.Rejected;
            }

            if (parse.GetValue(State.Json))
            {
                State.WriteJson(w =>
                {
                    w.WriteStartObject();
                    w.WriteNumber("generation", outcome.Generation);
                    w.WriteStartArray("cards");
                    foreach (CardOutcome c in outcome.Cards)
                    {
                        w.WriteStartObject();
                        w.WriteString("card", c.Card);
                        w.WriteString("state", c.State);
                        w.WriteString("detail", c.Detail);
                        w.WriteEndObject();
                    }

                    w.WriteEndArray();
                    w.WriteEndObject();
                });
            }
            else
            {
                Console.WriteLine($"generation {outcome.Generation} journaled");
                foreach (CardOutcome c in outcome.Cards)
                {
                    Console.WriteLine($"  {c.Card}: {c.State}{(c.Detail.Length > 0 ? " — " + c.Detail : "")}");
                }
            }

            // Cards that did not take it are caught up by the reconciler; say so in the exit code.
            return outcome.Cards.All(c => c.State == "acked") ? ExitCodes.Ok : ExitCodes.Unreachable;
        });
        return apply;
    }
}
