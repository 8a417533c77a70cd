using Microsoft.AspNetCore.Http;
using SnicRuntime.Contracts.Agent;
using SnicRuntime.Contracts.Plans;
using SnicRuntime.Firmware.Pipeline;
using SnicRuntime.Firmware.Plans;

namespace SnicRuntime.Firmware.Agent;

/// <summary>
/// <c>PATCH /v1/plan</c>: a plan delta (<see cref="PlanDelta"/>) against the plan this card runs —
/// after a change the controller sends only the objects that changed. It applies only to the plan
/// it names by digest (anything else is a 409: the controller sends the whole plan), must make the
/// plan it names by digest, and is then validated and installed like any plan (422 with paths when
/// not): the card ends where the whole plan would have put it, or where it was.
/// </summary>
public sealed partial class CardAgent
{
    private long _deltas;

    private async Task ApplyDelta(HttpContext ctx)
    {
        if (await PlanBody(ctx).ConfigureAwait(false) is not byte[] body)
        {
            return;
        }

        PolicyTables? running = _policy.Current;
        PlanDelta? delta = PlanJson.ParseDelta(body, out PlanError? parseError);
        if (delta is null)
        {
            await Refused(ctx, running, parseError!.Value).ConfigureAwait(false);
            return;
        }

        string runs = running is null ? "" : PlanDigest.Of(running.Source);
        if (running is null || delta.BaseDigest != runs)
        {
            await Problem(ctx, 409, running is null ? "this card runs no plan yet; send the whole plan"
                : $"this card runs the plan with digest '{runs}', not '{delta.BaseDigest}'; send the whole plan").ConfigureAwait(false);
            return;
        }

        if (delta.ApplyTo(running.Source, out PlanError? error) is not ChangePlan made)
        {
            await Refused(ctx, running, error!.Value).ConfigureAwait(false);
            return;
        }

        ApplyResult result = _policy.Apply(made);
        if (result.Accepted && !result.Unchanged)
        {
            Interlocked.Increment(ref _deltas);
        }

        var reply = new ApplyReply(result.Accepted, result.Generation, result.Unchanged, result.Errors.Select(e => new ErrorItem(e.Path, e.Reason)).ToList());
        await Write(ctx, result.Accepted ? 200 : 422, reply, AgentJsonContext.Default.ApplyReply).ConfigureAwait(false);
    }

    private static Task Refused(HttpContext ctx, PolicyTables? running, PlanError error) =>
        Write(ctx, 422, new ApplyReply(false, running?.Generation ?? 0, false, [new ErrorItem(error.Path, error.Reason)]), AgentJsonContext.Default.ApplyReply);
}
