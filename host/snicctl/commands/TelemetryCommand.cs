using System.CommandLine;
using System.Net;
using SnicRuntime.Management;
using SnicRuntime.Management.Fleet;
using SnicRuntime.Management.Store;

namespace SnicRuntime.Ctl;

/// <summary>
/// The long-running management service. <c>snicctl serve</c> keeps every card on the newest
/// journaled generation (the reconciler, with backoff) and collects telemetry;
/// <c>snicctl telemetry</c> only collects. Both serve Prometheus text at
/// <c>http://&lt;listen&gt;/metrics</c> and, with <c>--otlp URL</c>, push the same figures over OTLP.
/// </summary>
internal static class TelemetryCommand
{
    public static Command Create() => Build("telemetry", "collect card telemetry continuously; serve it at http://<listen>/metrics (Prometheus text)", reconcile: false);

    public static Command Serve() => Build("serve",
        "the management service: bring every card to the newest generation whenever it is behind (down, restarted), act as the HA witness, and collect telemetry", reconcile: true);

    private static Command Build(string name, string description, bool reconcile)
    {
        var listen = new Option<string>("--listen") { Description = "address:port of the Prometheus endpoint (loopback unless you say otherwise)", DefaultValueFactory = _ => "127.0.0.1:9464" };
        var interval = new Option<int>("--interval-ms") { Description = "collection interval", DefaultValueFactory = _ => 1000 };
        var seconds = new Option<int?>("--seconds") { Description = "stop after this long (default: until Ctrl+C)" };
        var otlp = new Option<string?>("--otlp") { Description = "also push the figures over OTLP/HTTP to this URL (e.g. http://127.0.0.1:4318/v1/metrics)" };
        var controllerId = new Option<string?>("--controller-id") { Description = "this controller's name among those sharing the store (default HOST-PID)" };
        var leaseMs = new Option<int>("--lease-ms") { Description = "leadership lease: another controller takes over this long after the leader dies", DefaultValueFactory = _ => 1000 };
        var command = new Command(name, description) { listen, interval, seconds, otlp };
        if (reconcile)
        {
            command.Options.Add(controllerId);
            command.Options.Add(leaseMs);
        }

        command.SetAction(async (parse, cancel) =>
        {
            string prefix = $"snicctl {name}";
            if (!IPEndPoint.TryParse(parse.GetValue(listen)!, out IPEndPoint? endpoint))
            {
                Console.Error.WriteLine($"{prefix}: --listen '{parse.GetValue(listen)}' is not address:port (port 0: any free port)");
                return ExitCodes.Usage;
            }

            if (parse.GetValue(interval) is < 100 or > 3_600_000)
            {
                Console.Error.WriteLine($"{prefix}: --interval-ms {parse.GetValue(interval)} is out of range (100..3600000)");
                return ExitCodes.Usage;
            }

            Uri? otlpUri = null;
            if (parse.GetValue(otlp) is string o && (!Uri.TryCreate(o, UriKind.Absolute, out otlpUri) || otlpUri.Scheme is not ("http" or "https")))
            {
                Console.Error.WriteLine($"{prefix}: --otlp '{o}' is not an http(s) URL");
                return ExitCodes.Usage;
            }

            if (reconcile && parse.GetValue(leaseMs) is < 500 or > 60_000)
            {
                Console.Error.WriteLine($"{prefix}: --lease-ms {parse.GetValue(leaseMs)} is out of range (500..60000)");
                return ExitCodes.Usage;
            }

            IStateStore? fleet = null;
            if (reconcile)
            {
                (fleet, int storeExit) = FleetStore.Open(parse, name);
                if (fleet is null)
                {
                    return storeExit;
                }
            }

            await using var fleetLifetime = fleet;
            var every = TimeSpan.FromMilliseconds(parse.GetValue(interval));
            using ManagementStore state = State.Open(parse);
            ManagementIdentity? identity = State.Identity(parse);
            var collector = new TelemetryCollector(state, identity);
            TelemetryEndpoint served;
            try
            {
                served = await TelemetryEndpoint.StartAsync(endpoint, collector);
            }
            catch (IOException e)
            {
                Console.Error.WriteLine($"{prefix}: cannot listen on {endpoint}: {e.Message}");
                return ExitCodes.InputError;
            }

            await using (served)
            {
                using TelemetryOtlp? pushed = otlpUri is null ? null : new TelemetryOtlp(collector, otlpUri, every);
                Console.WriteLine($"serving {new Uri(served.Address, "/metrics")}; collecting {state.Cards().Count} card(s) every {every.TotalMilliseconds:F0} ms" +
                    (otlpUri is null ? "" : $"; pushing OTLP to {otlpUri}") + (reconcile ? "; reconciling plan delivery" : ""));
                using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancel);
                if (parse.GetValue(seconds) is int s)
                {
                    stop.CancelAfter(TimeSpan.FromSeconds(s));
                }

                // Any number of controllers share the store; only the one that leads delivers and
                // witnesses. The others wait, and take over when its lease lapses.
                Task controller = Task.CompletedTask;
                FleetDelivery? fleetDelivery = null;
                if (fleet is not null)
                {
                    var election = new ControllerElection(fleet, parse.GetValue(controllerId) ?? $"{Environment.MachineName}-{Environment.ProcessId}",
                        TimeSpan.FromMilliseconds(parse.GetValue(leaseMs)));
                    Console.WriteLine($"controller '{election.Id}' on store {FleetStore.Parse(parse)}");
                    // Rounds that sent something are logged with where their time went (the fleet benchmark reads them).
                    fleetDelivery = new FleetDelivery(fleet, state, identity, election)
                    {
                        Traced = t => { if (t.Cards.Count > 0) { Console.WriteLine($"{DateTimeOffset.Now:HH:mm:ss.fff} {t.Line()}"); } },
                    };
                    collector.FleetCards = fleetDelivery.InventoryCards; // every card of the fleet, not only this host's
                    controller = election.Run(token => Task.WhenAll(
                        new PlanDelivery(state, fleet, identity) { Delegated = fleetDelivery.ManagedCards, FleetCards = fleetDelivery.InventoryCards }.RunReconciler(TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(30), token, Report),
                        // The cards of HA sets: each gets its share of the plan, whenever it changes.
                        fleetDelivery.Run(TimeSpan.FromSeconds(1), Report, w => Console.WriteLine($"{DateTimeOffset.Now:HH:mm:ss.fff} fleet delivery: {w}"), token),
                        // The HA witness: reaches both cards of every scope every 50 ms and grants a
                        // standby the next term (compare-and-swap in the store, fenced by this
                        // controller's leadership) only when its active is gone for us too.
                        new HaControl(state, identity) { Terms = new TermGrants(fleet), Election = election }.RunWitness(TimeSpan.FromMilliseconds(50),
                            g => Console.WriteLine($"{DateTimeOffset.Now:HH:mm:ss.fff} HA witness: {g}"), token)),
                        m => Console.WriteLine($"{DateTimeOffset.Now:HH:mm:ss.fff} {m}"), stop.Token);
                    // Leader or not, the desired state is mirrored and the shares cut, so a takeover starts warm.
                    controller = Task.WhenAll(controller, fleetDelivery.Warm(stop.Token));
                }

                await collector.Run(every, stop.Token);
                await controller;
                if (fleetDelivery is not null)
                {
                    await fleetDelivery.DisposeAsync();
                }
                pushed?.Flush();
            }

            return ExitCodes.Ok;
        });
        return command;
    }

    // The reconciler's deliveries, one line each, so an operator sees a card being brought back.
    private static void Report(CardOutcome o) =>
        Console.WriteLine($"{DateTimeOffset.Now:HH:mm:ss} card '{o.Card}' generation {o.Generation}: {o.State}{(o.Detail.Length > 0 ? " (" + o.Detail + ")" : "")}");
}
