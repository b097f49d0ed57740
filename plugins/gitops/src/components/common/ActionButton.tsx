import { ReactNode } from 'react';
import { Button, Tooltip } from '@material-ui/core';

/**
 * A small button that, when disabled, says why in a tooltip (on a wrapping span, since
 * a disabled button fires no events).
 */
export function ActionButton(props: {
  label: string;
  onClick: () => void;
  disabledReason?: string;
  busy?: boolean;
  testId?: string;
  icon?: ReactNode;
  color?: 'primary' | 'default';
}) {
  const { label, onClick, disabledReason, busy, testId, icon, color } = props;
  const button = (
    <Button
      size="small"
      variant="outlined"
      color={color ?? 'default'}
      startIcon={icon}
      disabled={Boolean(disabledReason) || busy}
      onClick={onClick}
      data-testid={testId}
    >
      {label}
    </Button>
  );
  return (
    <Tooltip title={disabledReason ?? ''}>
      <span style={{ display: 'inline-block', marginLeft: 8 }}>{button}</span>
    </Tooltip>
  );
}
