using SnicRuntime.Contracts.Agent;
using SnicRuntime.Firmware.Ha.Channel;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using SnicRuntime.Firmware.Ha;

namespace SnicRuntime.Firmware.Agent;

/// <summary>
/// The card agent's HA commands: status (GET /v1/ha), pairing (PUT /v1/ha), unpairing (DELETE
/// /v1/ha), and per-scope switchover and takeover with the term the management plane issues
/// (POST /v1/ha/scopes/{scope}/switchover|takeover). Every HA call is also the management
/// plane's witness contact.
/// </summary>
public sealed partial class CardAgent
{
    private readonly HaHost? _ha;

    private void MapHa(WebApplication app)
    {
        app.MapGet("/v1/ha", HaStatus);
        app.MapPut("/v1/ha", HaPair);
        app.MapDelete("/v1/ha", HaUnpair);
        app.MapPost("/v1/ha/scopes/{scope}/switchover", ctx => HaCommand(ctx, HaEventKind.Switchover));
        app.MapPost("/v1/ha/scopes/{scope}/takeover", ctx => HaCommand(ctx, HaEventKind.TakeoverGranted));
    }

    private Task HaStatus(HttpContext ctx)
    {
        if (_ha is null)
        {
            return Problem(ctx, 404, "this card has no HA (started without --ha-state)");
        }

        HaNode? node = _ha.Node;
        node?.WitnessHeard();
        if (node is null)
        {
            return Write(ctx, 200, new HaStatusReply(false, 0, 0, false, 0, 0, 0, 0, 0, 0, [], null), AgentJsonContext.Default.HaStatusReply);
        }

        HaPairing p = _ha.Pairing!;
        HaChannelCounters c = node.Channel.Counters;
        var drops = new Dictionary<string, long>();
        for (int i = 1; i < c.Drops.Length; i++)
        {
            drops[((HaDrop)i).ToString()] = Volatile.Read(ref c.Drops[i]);
        }

        var scopes = node.Scopes.Select((s, i) => new HaScopeReply(s.Scope, s.State.ToString(), s.Term,
            s.DesiredRole.ToString().ToLowerInvariant(), p.Scopes[i].Enis, s.Forwards)).ToList();
        return Write(ctx, 200, new HaStatusReply(true, p.CardId, p.PeerId, node.PeerUp, node.Sync.Lag,
            _dataplane.Pipelines.Sum(x => (long)(x.Hold?.Count ?? 0)), node.Workers.Sum(w => Volatile.Read(ref w.HoldFull)),
            node.Workers.Sum(w => Volatile.Read(ref w.Fenced)),
            node.Sync.RecordsSent, node.Sync.RecordsReceived, scopes,
            new HaChannelReply(c.FramesSent, c.Retransmits, c.FramesReceived, c.FramesDelivered, c.PeerRestarts, c.PayloadBytes, c.WireBytes, drops)),
            AgentJsonContext.Default.HaStatusReply);
    }

    private async Task HaPair(HttpContext ctx)
    {
        if (_ha is null)
        {
            await Problem(ctx, 404, "this card has no HA (started without --ha-state)").ConfigureAwait(false);
            return;
        }

        byte[] body = await ReadBody(ctx).ConfigureAwait(false);
        HaPairing? pairing = HaPairing.Parse(body, out string? why);
        IReadOnlyList<(string Path, string Reason)> errors = pairing is null ? [("$", why!)] : _ha.Pair(pairing);
        if (errors.Count != 0)
        {
            int status = errors[0].Reason.StartsWith("already paired", StringComparison.Ordinal) ? 409 : 422;
            await Write(ctx, status, new ProblemReply(status, "pairing refused", errors.Select(e => new ErrorItem(e.Path, e.Reason)).ToList()),
                AgentJsonContext.Default.ProblemReply).ConfigureAwait(false);
            return;
        }

        _ha.Node!.WitnessHeard();
        await HaStatus(ctx).ConfigureAwait(false);
    }

    private Task HaUnpair(HttpContext ctx)
    {
        if (_ha is null)
        {
            return Problem(ctx, 404, "this card has no HA (started without --ha-state)");
        }

        return _ha.Unpair() ? HaStatus(ctx) : Problem(ctx, 404, "not paired");
    }

    private async Task HaCommand(HttpContext ctx, HaEventKind kind)
    {
        string scope = (string)ctx.Request.RouteValues["scope"]!;
        HaNode? node = _ha?.Node;
        if (node is null)
        {
            await Problem(ctx, 404, "not paired").ConfigureAwait(false);
            return;
        }

        node.WitnessHeard();
        HaCommandRequest? request;
        try
        {
            request = JsonSerializer.Deserialize(await ReadBody(ctx).ConfigureAwait(false), AgentJsonContext.Default.HaCommandRequest);
        }
        catch (JsonException e)
        {
            await Problem(ctx, 400, $"body: {e.Message}").ConfigureAwait(false);
            return;
        }

        if (request is null || request.Term < 1)
        {
            await Problem(ctx, 400, "body: {\"term\": N} with N >= 1").ConfigureAwait(false);
            return;
        }

        if (!node.Scopes.Any(s => s.Scope == scope))
        {
            await Problem(ctx, 404, $"no HA scope named '{scope}' on this card").ConfigureAwait(false);
            return;
        }

        HaTransition t = node.Command(scope, new HaEvent(kind, request.Term));
        await Write(ctx, t.Refused ? 409 : 200, new HaTransitionReply(scope, t.From.ToString(), t.To.ToString(), t.Refused, t.Why),
            AgentJsonContext.Default.HaTransitionReply).ConfigureAwait(false);
    }

    private static async Task<byte[]> ReadBody(HttpContext ctx)
    {
        using var buffer = new MemoryStream();
        await ctx.Request.Body.CopyToAsync(buffer, ctx.RequestAborted).ConfigureAwait(false);
        return buffer.ToArray();
    }
}
